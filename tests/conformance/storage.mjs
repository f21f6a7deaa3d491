// Drives @google-cloud/storage against the emulator through
// STORAGE_EMULATOR_HOST (which must include http://, see peers.md).
//
// Environment: STORAGE_EMULATOR_HOST, BUCKET (created here), PROJECT,
// STORAGE_AUTH=1 to send an emulator-issued bearer token (EMU_KEY_FILE or
// EMU_TOKEN) although the endpoint is custom. Client retries are off so an
// emulator error is reported, not hidden. Prints one JSON document; exits 1
// with a message on stderr on the first failed expectation.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage, CRC32C } from '@google-cloud/storage';
import { emulatorToken, oauthClientFor } from './emu_auth.mjs';

const env = process.env;
const BUCKET = env.BUCKET || 'conformance-storage';
const PROJECT = env.PROJECT || 'test-project';
const KiB = 1024, MiB = 1024 * KiB;
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const results = { auth: env.STORAGE_AUTH === '1', steps: {} };
let step = 'setup';

class Failure extends Error {}
function expect(cond, msg, detail) {
	if (!cond)
		throw new Failure(msg + (detail === undefined ? '' : ': ' + JSON.stringify(detail)));
}
const md5b64 = (buf) => createHash('md5').update(buf).digest('base64');
const crc32cb64 = (buf) => { const c = new CRC32C(); c.update(buf); return c.toString(); };

async function expectCode(promise, code, what) {
	try {
		await promise;
	} catch (e) {
		expect(e.code === code, `${what}: expected error code ${code}, got ${e.code}`, String(e.message));
		return e;
	}
	throw new Failure(`${what}: expected error ${code}, got success`);
}

// Checks the object resource against the bytes we stored.
async function checkMeta(file, data, contentType) {
	const [m] = await file.getMetadata();
	expect(m.kind === 'storage#object', 'kind', m.kind);
	expect(m.name === file.name && m.bucket === BUCKET, 'name/bucket', { name: m.name, bucket: m.bucket });
	expect(m.size === String(data.length), 'size must be a decimal string', m.size);
	expect(typeof m.generation === 'string' && /^\d+$/.test(m.generation), 'generation must be an int64 string', m.generation);
	expect(typeof m.metageneration === 'string' && /^\d+$/.test(m.metageneration), 'metageneration must be an int64 string', m.metageneration);
	expect(m.md5Hash === md5b64(data), 'md5Hash', { got: m.md5Hash, want: md5b64(data) });
	expect(m.crc32c === crc32cb64(data), 'crc32c', { got: m.crc32c, want: crc32cb64(data) });
	expect(TIME_RE.test(m.updated || ''), 'updated', m.updated);
	expect(TIME_RE.test(m.timeCreated || ''), 'timeCreated', m.timeCreated);
	if (contentType)
		expect(m.contentType === contentType, 'contentType', m.contentType);
	return m;
}

async function roundTrip(name, data, opts, contentType) {
	const file = storage.bucket(BUCKET).file(name);
	await file.save(data, { contentType, ...opts });
	const m = await checkMeta(file, data, contentType);
	const [back] = await file.download({ validation: 'crc32c' });
	expect(Buffer.compare(back, data) === 0, `${name}: downloaded bytes differ`, { got: back.length, want: data.length });
	return m;
}

async function listAll(query) {
	// Manual paging, as batchfs does: collect items and prefixes per page.
	const bucket = storage.bucket(BUCKET);
	let q = { autoPaginate: false, ...query };
	const pages = [];
	for (;;) {
		const [files, next, resp] = await bucket.getFiles(q);
		pages.push({ items: files.map((f) => f.name), prefixes: (resp && resp.prefixes) || [] });
		if (!next || !next.pageToken)
			break;
		expect(pages.length < 100, 'listing never ends');
		q = { ...q, ...next, autoPaginate: false };
	}
	return {
		pages: pages.length,
		items: pages.flatMap((p) => p.items),
		prefixes: pages.flatMap((p) => p.prefixes),
	};
}

let storage;

async function main() {
	const host = env.STORAGE_EMULATOR_HOST || '';
	expect(/^https?:\/\/127\.0\.0\.1:/.test(host), 'STORAGE_EMULATOR_HOST must be http(s)://127.0.0.1:PORT', host);
	const opts = { projectId: PROJECT, retryOptions: { autoRetry: false } };
	if (env.STORAGE_AUTH === '1') {
		const tok = await emulatorToken();
		expect(tok, 'STORAGE_AUTH=1 needs EMU_KEY_FILE or EMU_TOKEN');
		opts.authClient = oauthClientFor('@google-cloud/storage', tok);
		opts.useAuthWithCustomEndpoint = true;
	}
	storage = new Storage(opts);
	if (opts.authClient) {
		// Client quirk (7.22.0): File#startResumableUpload_ does not pass
		// useAuthWithCustomEndpoint on, so resumable uploads to a custom
		// endpoint go out without Authorization. Interceptors do reach
		// them (customRequestOptions), so add the header there.
		const { token } = await opts.authClient.getAccessToken();
		storage.interceptors.push({
			request: (o) => ({ ...o, headers: { ...(o.headers || {}), Authorization: 'Bearer ' + token } }),
		});
	}
	const s = results.steps;

	step = 'createBucket';
	const [bucket, created] = await storage.createBucket(BUCKET);
	expect(created && created.name === BUCKET, 'createBucket reply', created);
	const [bExists] = await bucket.exists();
	expect(bExists, 'bucket.exists after createBucket');
	const [bMeta] = await bucket.getMetadata();
	expect(bMeta.name === BUCKET && bMeta.kind === 'storage#bucket', 'bucket metadata', bMeta);
	await expectCode(storage.createBucket(BUCKET), 409, 'createBucket of an existing bucket');
	const [noBucket] = await storage.bucket(BUCKET + '-none').exists();
	expect(!noBucket, 'exists() of a missing bucket');
	s.createBucket = { name: bMeta.name, location: bMeta.location || null };

	step = 'simple-upload';
	const hello = Buffer.from('hello world\n');
	const m1 = await roundTrip('small/hello.txt', hello, {
		resumable: false, metadata: { metadata: { origin: 'conformance' } } }, 'text/plain');
	expect(m1.metadata && m1.metadata.origin === 'conformance', 'custom metadata', m1.metadata);
	const empty = await roundTrip('small/empty', Buffer.alloc(0), { resumable: false });
	s.simpleUpload = { generation: m1.generation, emptySize: empty.size };

	step = 'overwrite';
	const hello2 = Buffer.from('hello again\n');
	const m2 = await roundTrip('small/hello.txt', hello2, { resumable: false }, 'text/plain');
	expect(BigInt(m2.generation) > BigInt(m1.generation), 'an overwrite must get a newer generation', [m1.generation, m2.generation]);
	// Pinned generations: the live one reads, the overwritten one is gone
	// (the bucket has no versioning, so GCS deletes noncurrent generations).
	const [pinned] = await storage.bucket(BUCKET).file('small/hello.txt', { generation: m2.generation }).download();
	expect(Buffer.compare(pinned, hello2) === 0, 'download pinned to the live generation');
	await expectCode(storage.bucket(BUCKET).file('small/hello.txt', { generation: m1.generation }).download(),
		404, 'download of an overwritten generation');
	// ifGenerationMatch=0 ("create only if absent") on an existing object.
	await expectCode(storage.bucket(BUCKET).file('small/hello.txt').save(Buffer.from('x'),
		{ resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }), 412, 'ifGenerationMatch=0 on an existing object');
	s.overwrite = { generations: [m1.generation, m2.generation] };

	step = 'resumable-upload';
	const big = randomBytes(6 * MiB + 333);
	await roundTrip('big/one-shot.bin', big, { resumable: true });
	// Multi-chunk: every chunk but the last is a multiple of 256 KiB and gets 308.
	const chunked = randomBytes(3 * MiB + 12345);
	await roundTrip('big/chunk-512k.bin', chunked, { resumable: true, chunkSize: 256 * KiB * 2 });
	await roundTrip('big/chunk-1m.bin', chunked, { resumable: true, chunkSize: 1 * MiB });
	// Exactly one chunk boundary at the end.
	const exact = randomBytes(2 * 256 * KiB);
	await roundTrip('big/chunk-exact.bin', exact, { resumable: true, chunkSize: 256 * KiB });
	s.resumableUpload = { oneShot: big.length, chunked: chunked.length, exact: exact.length };

	step = 'bucket.upload';
	const dir = mkdtempSync(join(tmpdir(), 'conf-storage-'));
	try {
		const local = join(dir, 'local.bin');
		const lbytes = randomBytes(300 * KiB);
		writeFileSync(local, lbytes);
		const [f] = await bucket.upload(local, { destination: 'up/local.bin' });
		await checkMeta(f, lbytes);
		const local2 = join(dir, 'local-big.bin');
		const lbig = randomBytes(5 * MiB + 77);
		writeFileSync(local2, lbig);
		const [f2] = await bucket.upload(local2, { destination: 'up/local-big.bin', resumable: true });
		await checkMeta(f2, lbig);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
	s.bucketUpload = { ok: true };

	step = 'special-names';
	const odd = 'dir/with space #?%+&=ünï/€.txt';
	const oddData = Buffer.from('odd name\n');
	await roundTrip(odd, oddData, { resumable: false }, 'text/plain');
	await roundTrip(odd + '.r', oddData, { resumable: true }, 'text/plain');
	const oddList = await listAll({ prefix: 'dir/with space #?%+&=ünï/' });
	expect(JSON.stringify(oddList.items) === JSON.stringify([odd, odd + '.r']), 'list of an odd prefix', oddList);
	s.specialNames = { name: odd };

	step = 'list';
	const tree = ['tree/a/b', 'tree/a/c', 'tree/d', 'tree/e', 'tree/e/f', 'tree/e/g/h'];
	for (const n of tree)
		await bucket.file(n).save(Buffer.from(n), { resumable: false });
	let r = await listAll({ prefix: 'tree/', delimiter: '/' });
	expect(JSON.stringify(r.items) === JSON.stringify(['tree/d', 'tree/e']), 'items with delimiter', r);
	expect(JSON.stringify(r.prefixes) === JSON.stringify(['tree/a/', 'tree/e/']), 'prefixes (apiResponse.prefixes)', r);
	const top = r;
	r = await listAll({ prefix: 'tree/e/', delimiter: '/' });
	expect(JSON.stringify(r.items) === JSON.stringify(['tree/e/f']), 'items under tree/e/', r);
	expect(JSON.stringify(r.prefixes) === JSON.stringify(['tree/e/g/']), 'prefixes under tree/e/', r);
	// maxResults counts items + prefixes; paging must give the same union.
	r = await listAll({ prefix: 'tree/', delimiter: '/', maxResults: 1 });
	expect(r.pages >= 2, 'delimiter listing with maxResults 1 must page', r);
	expect(JSON.stringify(r.items) === JSON.stringify(top.items) &&
		JSON.stringify([...new Set(r.prefixes)]) === JSON.stringify(top.prefixes),
		'paged delimiter listing differs from the single page', { paged: r, top });
	const pagedDelim = r.pages;
	r = await listAll({ prefix: 'tree/', maxResults: 2 });
	expect(r.pages >= 3, 'flat listing with maxResults 2 over 6 objects must take >= 3 pages', r);
	expect(JSON.stringify(r.items) === JSON.stringify(tree), 'flat paged listing (lexicographic, complete)', r);
	const [auto] = await bucket.getFiles({ prefix: 'tree/', maxResults: 4 });
	expect(auto.length >= 4, 'autoPaginate listing', auto.map((f) => f.name));
	const [nothing] = await bucket.getFiles({ prefix: 'no-such-prefix/' });
	expect(nothing.length === 0, 'listing an empty prefix', nothing.length);
	s.list = { delimiterPages: pagedDelim, flatPages: r.pages, prefixes: top.prefixes };

	step = 'download';
	const bf = bucket.file('big/one-shot.bin');
	const [full] = await bf.download({ validation: 'md5' });
	expect(Buffer.compare(full, big) === 0, 'full download (md5 validation) differs');
	const [part] = await bf.download({ start: 100, end: 199 });
	expect(part.length === 100 && Buffer.compare(part, big.subarray(100, 200)) === 0,
		'ranged download start 100 end 199', part.length);
	const [one] = await bf.download({ start: 0, end: 0 });
	expect(one.length === 1 && one[0] === big[0], 'ranged download of byte 0', one.length);
	const lastStart = big.length - 10;
	const [tail] = await bf.download({ start: lastStart });
	expect(Buffer.compare(tail, big.subarray(lastStart)) === 0, 'open-ended ranged download', tail.length);
	const mid = 3 * MiB;
	const [midPart] = await bf.download({ start: mid, end: mid + MiB - 1 });
	expect(Buffer.compare(midPart, big.subarray(mid, mid + MiB)) === 0, '1 MiB ranged download in the middle');
	await expectCode(bucket.file('no/such/object').download(), 404, 'download of a missing object');
	await expectCode(bucket.file('no/such/object').getMetadata(), 404, 'getMetadata of a missing object');
	s.download = { full: full.length, ranged: part.length, tail: tail.length };

	step = 'exists-delete';
	const [e1] = await bucket.file('small/hello.txt').exists();
	expect(e1, 'exists() of an existing object');
	await bucket.file('small/hello.txt').delete();
	const [e2] = await bucket.file('small/hello.txt').exists();
	expect(!e2, 'exists() after delete');
	await expectCode(bucket.file('small/hello.txt').delete(), 404, 'second delete');
	await bucket.file('small/hello.txt').delete({ ignoreNotFound: true });
	await bucket.file(odd).delete();
	const after = await listAll({ prefix: 'small/' });
	expect(JSON.stringify(after.items) === JSON.stringify(['small/empty']), 'listing after delete', after);
	s.existsDelete = { ok: true };

	results.ok = true;
	console.log(JSON.stringify(results, null, 1));
}

main().catch((e) => {
	results.ok = false;
	results.step = step;
	results.error = (e && e.code ? `code ${e.code}: ` : '') + String(e && e.message || e);
	console.log(JSON.stringify(results, null, 1));
	console.error(`storage: step ${step} (auth=${results.auth}): ${results.error}`);
	process.exit(1);
});
