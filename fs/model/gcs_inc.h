/* gcs_inc.h - includes batchfs/gcs.h for the model. Temporary: gcs.h and
 * vertex.h declare bf_parse_rfc3339_us differently (see
 * /work/coord/requests.md); the model uses neither, so the gcs one is
 * renamed out of the way here. */
#ifndef BATCHFS_MODEL_GCS_INC_H
#define BATCHFS_MODEL_GCS_INC_H
#define bf_parse_rfc3339_us bf_parse_rfc3339_us_gcs_shadow
#include "batchfs/gcs.h"
#undef bf_parse_rfc3339_us
#endif
