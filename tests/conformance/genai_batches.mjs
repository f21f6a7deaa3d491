// Drives @google/genai's batches module (Vertex mode) against the emulator,
// authenticated with a bearer token the emulator issued.
//
//   node genai_batches.mjs suite   create/get/list(paged)/cancel/delete and
//                                  wait for SUCCEEDED (the default)
//   node genai_batches.mjs run     create one job from $SRC to $DEST (gs:// or
//                                  bq://), wait until it ends, print it
//
// Environment: EMU_URL (base URL), EMU_KEY_FILE or EMU_TOKEN, SRC, DEST,
// API_VERSION ("" = the SDK default, v1beta1), PROJECT, PROJECT_NUMBER,
// LOCATION, MODEL, TIMEOUT_S. Prints one JSON document; exits 1 with a
// message on stderr on the first failed expectation.
import { GoogleGenAI, ApiError } from '@google/genai';
import { emulatorToken, oauthClientFor } from './emu_auth.mjs';

const env = process.env;
const BASE = env.EMU_URL;
const PROJECT = env.PROJECT || 'test-project';
const PROJECT_NUMBER = env.PROJECT_NUMBER || '123456789012';
const LOCATION = env.LOCATION || 'us-central1';
const MODEL = env.MODEL || 'gemini-2.0-flash-001';
const API_VERSION = env.API_VERSION || '';
const TIMEOUT_MS = Number(env.TIMEOUT_S || 120) * 1000;
const TERMINAL = new Set(['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED',
	'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', 'JOB_STATE_PARTIALLY_SUCCEEDED']);
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const results = { apiVersion: API_VERSION || 'default(v1beta1)', steps: {} };
let step = 'setup';

class Failure extends Error {}
function expect(cond, msg, detail) {
	if (!cond)
		throw new Failure(msg + (detail === undefined ? '' : ': ' + JSON.stringify(detail)));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shortId = (name) => name.split('/').pop();

async function expectApiError(promise, status, what) {
	try {
		const r = await promise;
		throw new Failure(`${what}: expected ApiError ${status}, got success ${JSON.stringify(r)}`);
	} catch (e) {
		if (e instanceof Failure)
			throw e;
		expect(e instanceof ApiError, `${what}: expected ApiError, got ${e && e.name}`, String(e));
		expect(e.status === status, `${what}: expected HTTP ${status}, got ${e.status}`, e.message);
		return e;
	}
}

function checkJob(job, want) {
	const nameRe = new RegExp(`^projects/${PROJECT_NUMBER}/locations/${LOCATION}` +
		'/batchPredictionJobs/\\d{19}$');
	expect(nameRe.test(job.name || ''), 'job name is not projects/<number>/locations/<loc>/batchPredictionJobs/<19 digits>', job.name);
	expect(job.model === 'publishers/google/models/' + MODEL, 'model', job.model);
	expect(TIME_RE.test(job.createTime || ''), 'createTime is not RFC 3339 with microseconds', job.createTime);
	expect(TIME_RE.test(job.updateTime || ''), 'updateTime is not RFC 3339 with microseconds', job.updateTime);
	if (want.displayName !== undefined)
		expect(job.displayName === want.displayName, 'displayName', job.displayName);
	const bq = (u) => typeof u === 'string' && u.startsWith('bq://');
	if (want.src && bq(want.src)) {
		expect(job.src && job.src.format === 'bigquery', 'src.format (inputConfig.instancesFormat)', job.src);
		expect(job.src.bigqueryUri === want.src, 'src.bigqueryUri', job.src);
	} else if (want.src) {
		expect(job.src && job.src.format === 'jsonl', 'src.format (inputConfig.instancesFormat)', job.src);
		const uris = Array.isArray(want.src) ? want.src : [want.src];
		expect(JSON.stringify(job.src.gcsUri) === JSON.stringify(uris), 'src.gcsUri', job.src);
	}
	if (want.dest && bq(want.dest)) {
		expect(job.dest && job.dest.format === 'bigquery', 'dest.format (outputConfig.predictionsFormat)', job.dest);
		expect(job.dest.bigqueryUri === want.dest, 'dest.bigqueryUri', job.dest);
	} else if (want.dest) {
		expect(job.dest && job.dest.format === 'jsonl', 'dest.format (outputConfig.predictionsFormat)', job.dest);
		expect(job.dest.gcsUri === want.dest, 'dest.gcsUri', job.dest);
	}
	expect(typeof job.state === 'string' && job.state.startsWith('JOB_STATE_'), 'state', job.state);
}

async function waitEnd(ai, name, seen) {
	const t0 = Date.now();
	for (;;) {
		const j = await ai.batches.get({ name });
		if (seen && seen[seen.length - 1] !== j.state)
			seen.push(j.state);
		if (TERMINAL.has(j.state))
			return j;
		expect(Date.now() - t0 < TIMEOUT_MS, `job ${name} not finished after ${TIMEOUT_MS} ms`, j.state);
		await sleep(200);
	}
}

async function client() {
	expect(BASE, 'EMU_URL is not set');
	const tok = await emulatorToken();
	expect(tok, 'no token: set EMU_KEY_FILE or EMU_TOKEN');
	const httpOptions = { baseUrl: BASE };
	if (API_VERSION)
		httpOptions.apiVersion = API_VERSION;
	return new GoogleGenAI({
		vertexai: true, project: PROJECT, location: LOCATION,
		googleAuthOptions: { authClient: oauthClientFor('@google/genai', tok) },
		httpOptions,
	});
}

async function runOne(ai) {
	step = 'create';
	const src = env.SRC, dest = env.DEST;
	expect(src && dest, 'SRC and DEST must be set');
	// SRC may be a JSON array of URIs: several input files (wildcards allowed).
	const uris = src.startsWith('[') ? JSON.parse(src) : null;
	const created = await ai.batches.create({ model: MODEL,
		src: uris ? { format: 'jsonl', gcsUri: uris } : src,
		config: { displayName: env.DISPLAY_NAME || 'conformance-run', dest } });
	checkJob(created, { src: uris || src, dest });
	step = 'wait';
	const states = [created.state];
	const job = await waitEnd(ai, created.name, states);
	results.states = states;
	results.job = job;
}

async function suite(ai) {
	const src = env.SRC, dest = env.DEST;
	expect(src && dest, 'SRC and DEST must be set');
	const s = results.steps;

	step = 'create';
	const a = await ai.batches.create({ model: MODEL, src,
		config: { displayName: 'conf-A', dest } });
	checkJob(a, { displayName: 'conf-A', src, dest });
	expect(['JOB_STATE_PENDING', 'JOB_STATE_QUEUED'].includes(a.state),
		'a new job must be PENDING or QUEUED', a.state);
	const b = await ai.batches.create({ model: MODEL, src,
		config: { displayName: 'conf-B', dest } });
	checkJob(b, { displayName: 'conf-B', src, dest });
	// Cancel at once, while B is surely still PENDING even on a slow machine.
	step = 'cancel';
	const cancelReply = await ai.batches.cancel({ name: b.name });
	step = 'create';
	// No displayName: the SDK sends genaiBatchJob_<ms>.
	const c = await ai.batches.create({ model: MODEL, src, config: { dest } });
	checkJob(c, { src, dest });
	expect(/^genaiBatchJob_\d+$/.test(c.displayName), 'default displayName', c.displayName);
	const ids = [a, b, c].map((j) => shortId(j.name));
	expect(new Set(ids).size === 3, 'job ids must differ', ids);
	// Vertex refuses an unknown publisher model synchronously with 404.
	const badModel = await expectApiError(ai.batches.create({ model: 'gemini-does-not-exist', src,
		config: { displayName: 'conf-bad-model', dest } }), 404, 'create with an unknown model');
	expect(/NOT_FOUND/.test(badModel.message) && /gemini-does-not-exist/.test(badModel.message),
		'unknown model error names the model and NOT_FOUND', badModel.message);
	s.create = { names: [a.name, b.name, c.name], state: a.state, unknownModel: badModel.message.slice(0, 200) };

	step = 'get';
	const byName = await ai.batches.get({ name: a.name });
	checkJob(byName, { displayName: 'conf-A', src, dest });
	expect(byName.name === a.name, 'get by full name returned another job', byName.name);
	const byId = await ai.batches.get({ name: shortId(a.name) });
	expect(byId.name === a.name, 'get by numeric id returned another job', byId.name);
	// A name using the project id (not the number) is accepted too.
	const byProjId = await ai.batches.get({
		name: `projects/${PROJECT}/locations/${LOCATION}/batchPredictionJobs/${shortId(a.name)}` });
	expect(byProjId.name === a.name, 'get with the project id', byProjId.name);
	const missing = await expectApiError(ai.batches.get({ name: '1234567890123456789' }),
		404, 'get of an unknown job');
	expect(/NOT_FOUND/.test(missing.message), '404 body must carry status NOT_FOUND', missing.message);
	s.get = { ok: true, notFound: missing.message.slice(0, 200) };

	step = 'list';
	const pager = await ai.batches.list({ config: { pageSize: 2 } });
	let page = pager.page;
	const pages = [page.map((j) => j.name)];
	expect(page.length <= 2, 'a page holds more than pageSize jobs', page.length);
	while (pager.hasNextPage()) {
		page = await pager.nextPage();
		expect(page.length <= 2, 'a page holds more than pageSize jobs', page.length);
		pages.push(page.map((j) => j.name));
		expect(pages.length < 100, 'list never ends');
	}
	const listed = pages.flat();
	expect(pages.length >= 2, 'list with pageSize 2 over 3 jobs must span > 1 page', pages);
	expect(new Set(listed).size === listed.length, 'list returned a job twice', listed);
	for (const j of [a, b, c])
		expect(listed.includes(j.name), 'list misses a created job', { job: j.name, listed });
	// The async iterator follows nextPageToken on its own.
	const iterated = [];
	for await (const j of await ai.batches.list({ config: { pageSize: 1 } }))
		iterated.push(j.name);
	expect(JSON.stringify([...iterated].sort()) === JSON.stringify([...listed].sort()),
		'iterating with pageSize 1 gives other jobs than paging with 2', { iterated, listed });
	const filtered = [];
	for await (const j of await ai.batches.list({
		config: { pageSize: 10, filter: 'display_name="conf-A"' } }))
		filtered.push(j.name);
	expect(JSON.stringify(filtered) === JSON.stringify([a.name]),
		'filter display_name="conf-A"', filtered);
	s.list = { pages: pages.length, jobs: listed.length, filtered: filtered.length };

	step = 'cancel';
	const bEnd = await waitEnd(ai, b.name);
	expect(bEnd.state === 'JOB_STATE_CANCELLED', 'cancelled job state', bEnd.state);
	expect(bEnd.error && bEnd.error.code === 1, 'a cancelled job has error.code 1', bEnd.error);
	s.cancel = { reply: cancelReply === undefined ? null : cancelReply, state: bEnd.state, error: bEnd.error };

	step = 'delete-running';
	const cNow = await ai.batches.get({ name: c.name });
	if (!TERMINAL.has(cNow.state)) {
		const e = await expectApiError(ai.batches.delete({ name: c.name }), 400,
			'delete of an unfinished job');
		expect(/FAILED_PRECONDITION/.test(e.message), 'delete of an unfinished job: status', e.message);
		s.deleteRunning = { state: cNow.state, status: e.status };
	} else {
		s.deleteRunning = { skipped: 'job C had already ended: ' + cNow.state };
	}

	step = 'wait';
	const states = [a.state];
	const aEnd = await waitEnd(ai, a.name, states);
	expect(aEnd.state === 'JOB_STATE_SUCCEEDED', 'job A did not succeed', { state: aEnd.state, error: aEnd.error });
	expect(TIME_RE.test(aEnd.startTime || ''), 'startTime of a finished job', aEnd.startTime);
	expect(TIME_RE.test(aEnd.endTime || ''), 'endTime of a finished job', aEnd.endTime);
	const cs = aEnd.completionStats || {};
	expect(typeof cs.successfulCount === 'string' && Number(cs.successfulCount) > 0,
		'completionStats.successfulCount must be a positive int64 string', cs);
	const outDir = aEnd.outputInfo && aEnd.outputInfo.gcsOutputDirectory;
	const prefix = dest.endsWith('/') ? dest : dest + '/';
	expect(outDir && outDir.startsWith(prefix + 'prediction-model-'),
		'outputInfo.gcsOutputDirectory', aEnd.outputInfo);
	s.wait = { states, completionStats: cs, outputDirectory: outDir };

	step = 'delete';
	const op = await ai.batches.delete({ name: a.name });
	expect(op && /^projects\/\d+\/locations\/[^/]+\/operations\/\d+$/.test(op.name || ''),
		'delete must return an Operation named projects/*/locations/*/operations/<id>', op);
	expect(!op.error, 'delete operation carries an error', op.error);
	await expectApiError(ai.batches.get({ name: a.name }), 404, 'get after delete');
	await ai.batches.delete({ name: b.name });
	const cEnd = await waitEnd(ai, c.name);
	await ai.batches.delete({ name: c.name });
	const left = [];
	for await (const j of await ai.batches.list({ config: { pageSize: 50 } }))
		left.push(j.name);
	for (const j of [a, b, c])
		expect(!left.includes(j.name), 'a deleted job is still listed', j.name);
	s.delete = { operation: op.name, done: op.done === undefined ? null : op.done, cState: cEnd.state };
}

async function main() {
	const mode = process.argv[2] || 'suite';
	const ai = await client();
	if (mode === 'run')
		await runOne(ai);
	else
		await suite(ai);
	results.ok = true;
	console.log(JSON.stringify(results, null, 1));
}

main().catch((e) => {
	results.ok = false;
	results.step = step;
	results.error = e instanceof ApiError ? `ApiError ${e.status}: ${e.message}` : String(e && e.message || e);
	console.log(JSON.stringify(results, null, 1));
	console.error(`genai_batches: step ${step} (apiVersion ${results.apiVersion}): ${results.error}`);
	process.exit(1);
});
