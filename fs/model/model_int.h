/* model_int.h - the model's private declarations, shared by its files only:
 * the headers of the files that have one, and the rest. */
#ifndef BATCHFS_MODEL_INT_H
#define BATCHFS_MODEL_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/vertex.h"
#include "model/budget.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/hmap.h"
#include "model/input.h"
#include "model/jobs.h"
#include "model/journal.h"
#include "model/model.h"
#include "model/names.h"
#include "model/outdir.h"
#include "model/refresh.h"
#include "model/resdir.h"
#include "model/validate.h"

/* ---- the node half: one header per file ---- */
#include "model/ctl.h"
#include "model/fh.h"
#include "model/files.h"
#include "model/gen.h"
#include "model/kinds.h"
#include "model/node.h"
#include "model/outtree.h"
#include "model/perm.h"
#include "model/render.h"
#include "model/tree.h"
#include "model/wait.h"
#include "model/waitq.h"
#include "model/wftree.h"

#endif
