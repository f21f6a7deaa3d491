// Obtains an access token that the emulator itself issued, the way a service
// account does against Google: an RS256-signed JWT (claims as
// google-auth-library builds them) exchanged at the key file's token_uri with
// the jwt-bearer grant.
//
// Why not google-auth-library's JWT client: both versions installed here
// (9.15.1 via @google-cloud/storage, 10.9.1 via @google/genai) hard-code
// https://oauth2.googleapis.com/token (gtoken's GOOGLE_TOKEN_URL) and ignore
// token_uri, so they would send the grant off this machine.
//
// Usage as a program: node emu_auth.mjs KEYFILE  -> prints the token JSON.
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const GOOGLE_AUD = 'https://oauth2.googleapis.com/token';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function signAssertion(key, { aud = GOOGLE_AUD, now = Date.now() } = {}) {
	const iat = Math.floor(now / 1000);
	const header = { alg: 'RS256', typ: 'JWT', kid: key.private_key_id };
	const claims = { iss: key.client_email, aud, scope: SCOPE, iat, exp: iat + 3600 };
	const input = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(claims));
	const sig = createSign('RSA-SHA256').update(input).sign(key.private_key);
	return input + '.' + b64url(sig);
}

export async function fetchToken(keyFile, opts = {}) {
	const key = JSON.parse(readFileSync(keyFile, 'utf8'));
	if (!key.token_uri || !/^https?:\/\/127\.0\.0\.1[:/]/.test(key.token_uri))
		throw new Error(`refusing token_uri ${key.token_uri}: not the local emulator`);
	const body = new URLSearchParams({
		grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
		assertion: signAssertion(key, opts),
	});
	const res = await fetch(key.token_uri, {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded' },
		body,
	});
	const text = await res.text();
	if (res.status !== 200)
		throw new Error(`token endpoint answered ${res.status}: ${text}`);
	const tok = JSON.parse(text);
	if (typeof tok.access_token !== 'string' || !tok.access_token)
		throw new Error(`token reply without access_token: ${text}`);
	if (tok.token_type !== 'Bearer')
		throw new Error(`token_type ${tok.token_type}, expected Bearer`);
	const expiresIn = Number(tok.expires_in);
	if (!(expiresIn > 0))
		throw new Error(`bad expires_in in ${text}`);
	return { access_token: tok.access_token, expires_in: expiresIn };
}

// The token from $EMU_TOKEN if the test passed one, else a fresh grant with
// $EMU_KEY_FILE; null when neither is set (anonymous).
export async function emulatorToken() {
	if (process.env.EMU_TOKEN)
		return { access_token: process.env.EMU_TOKEN, expires_in: 3000 };
	if (process.env.EMU_KEY_FILE)
		return fetchToken(process.env.EMU_KEY_FILE);
	return null;
}

// An OAuth2Client of the google-auth-library copy that `fromPackage` itself
// resolves, holding `tok` as an unexpired credential so it never refreshes
// (a refresh would go to Google).
export function oauthClientFor(fromPackage, tok) {
	// Both packages block './package.json' in "exports", so anchor the
	// resolution at their directory instead.
	const pkgJson = fileURLToPath(
		new URL(`./node_modules/${fromPackage}/package.json`, import.meta.url));
	const { OAuth2Client } = createRequire(pkgJson)('google-auth-library');
	const client = new OAuth2Client();
	client.setCredentials({
		access_token: tok.access_token,
		token_type: 'Bearer',
		expiry_date: Date.now() + tok.expires_in * 1000,
	});
	return client;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const keyFile = process.argv[2] || process.env.EMU_KEY_FILE;
	fetchToken(keyFile).then(
		(t) => console.log(JSON.stringify(t)),
		(e) => { console.error(`emu_auth: ${e.message}`); process.exit(1); });
}
