// While a job runs, reads its continuously exported rows with
// @google-cloud/storage the way a reader of a growing file would: list the
// output prefix, download incremental_predictions/predictions.jsonl again
// and again with crc32c validation. Every overwrite must be atomic (each
// download is exactly one generation, hash-valid, whole JSON lines) and the
// content append-only (each generation extends the previous one).
//
// Environment: EMU_URL (for genai and STORAGE_EMULATOR_HOST), SRC, DEST,
// ROWS (expected row count). Prints JSON; exits 1 on the first failure.
import { GoogleGenAI } from '@google/genai';
import { Storage } from '@google-cloud/storage';
import { oauthClientFor } from './emu_auth.mjs';

const env = process.env;
const ROWS = Number(env.ROWS);
const results = { downloads: 0, raced: 0, generations: [], sizes: [] };
let step = 'setup';

class Failure extends Error {}
function expect(cond, msg, detail) {
	if (!cond)
		throw new Failure(msg + (detail === undefined ? '' : ': ' + JSON.stringify(detail)));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rowsOf(buf, what) {
	const text = buf.toString('utf8');
	expect(text === '' || text.endsWith('\n'), `${what}: content does not end with a whole line`, text.slice(-80));
	return text.split('\n').filter((l) => l).map((l, i) => {
		try {
			return JSON.parse(l);
		} catch (e) {
			throw new Failure(`${what}: line ${i + 1} is not JSON: ${l.slice(0, 120)}`);
		}
	});
}

async function main() {
	process.env.STORAGE_EMULATOR_HOST = env.EMU_URL;
	// Auth is off for this test; the SDK still wants a credential.
	const authClient = oauthClientFor('@google/genai', { access_token: 'unused', expires_in: 3600 });
	const ai = new GoogleGenAI({ vertexai: true, project: 'test-project', location: 'us-central1',
		googleAuthOptions: { authClient }, httpOptions: { baseUrl: env.EMU_URL } });
	const storage = new Storage({ projectId: 'test-project', retryOptions: { autoRetry: false } });

	step = 'create';
	const job = await ai.batches.create({ model: 'gemini-2.0-flash-001', src: env.SRC,
		config: { displayName: 'incremental', dest: env.DEST } });
	const [bucketName, ...rest] = env.DEST.slice('gs://'.length).split('/');
	const prefix = rest.join('/').replace(/\/?$/, '/');
	const bucket = storage.bucket(bucketName);

	step = 'follow';
	let prev = Buffer.alloc(0), state = job.state, t0 = Date.now(), sawRunning = false;
	while (!['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED'].includes(state)) {
		expect(Date.now() - t0 < 120000, 'job did not end within 120 s', state);
		const j = await ai.batches.get({ name: job.name });
		state = j.state;
		if (state === 'JOB_STATE_RUNNING')
			sawRunning = true;
		const [files] = await bucket.getFiles({ prefix });
		const inc = files.find((f) => f.name.endsWith('/incremental_predictions/predictions.jsonl'));
		if (!inc) {
			await sleep(50);
			continue;
		}
		// Pin the generation the listing showed: content and generation then
		// belong together. If it was overwritten since, GCS has deleted it
		// (no versioning) and answers 404: list again.
		const gen = inc.metadata.generation;
		let data;
		try {
			[data] = await bucket.file(inc.name, { generation: gen }).download({ validation: 'crc32c' });
		} catch (e) {
			expect(e.code === 404, `download of ${inc.name}#${gen} failed`, `${e.code} ${e.message}`);
			results.raced = (results.raced || 0) + 1;
			continue;
		}
		results.downloads++;
		const rows = rowsOf(data, inc.name);
		expect(data.length >= prev.length && data.subarray(0, prev.length).equals(prev),
			'incremental export is not append-only', { before: prev.length, after: data.length });
		if (data.length !== prev.length) {
			results.sizes.push(data.length);
			results.generations.push(gen);
		}
		expect(rows.length <= ROWS, 'more incremental rows than input rows', rows.length);
		prev = data;
		await sleep(30);
	}
	expect(state === 'JOB_STATE_SUCCEEDED', 'job state', state);
	expect(sawRunning, 'never saw the job RUNNING');
	expect(results.sizes.length >= 2, 'the incremental file never grew while the job ran', results.sizes);
	const gens = results.generations.map(BigInt);
	for (let i = 1; i < gens.length; i++)
		expect(gens[i] > gens[i - 1], 'each growth must be a newer generation', results.generations);

	step = 'final';
	const [files] = await bucket.getFiles({ prefix });
	const fin = files.find((f) => /\/prediction-model-[^/]+\/predictions\.jsonl$/.test(f.name));
	expect(fin, 'no final predictions.jsonl', files.map((f) => f.name));
	const [data] = await fin.download({ validation: 'crc32c' });
	const finalRows = rowsOf(data, fin.name);
	expect(finalRows.length === ROWS, 'final row count', finalRows.length);
	const keys = new Set(finalRows.map((r) => r.key));
	for (const r of rowsOf(prev, 'last incremental'))
		expect(keys.has(r.key), 'an incremental row is missing from the final file', r.key);
	results.finalRows = finalRows.length;
	results.ok = true;
	console.log(JSON.stringify(results, null, 1));
}

main().catch((e) => {
	results.ok = false;
	results.step = step;
	results.error = String(e && e.message || e);
	console.log(JSON.stringify(results, null, 1));
	console.error(`incremental: step ${step}: ${results.error}`);
	process.exit(1);
});
