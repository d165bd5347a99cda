// Costs of the MLS operations the web app performs, with ts-mls in Node (ciphersuite 1). Not a test: figures
// for BENCHMARKS.md. Usage: node scripts/mls-bench.mjs [members=2] [messages=200]
import {
  createApplicationMessage, createCommit, createGroup, decodeMlsMessage, defaultCapabilities, defaultLifetime, emptyPskIndex,
  encodeMlsMessage, generateKeyPackage, getCiphersuiteFromName, getCiphersuiteImpl, joinGroup, processPrivateMessage,
} from 'ts-mls';

const members = Number(process.argv[2] ?? 2);
const messages = Number(process.argv[3] ?? 200);
const cs = await getCiphersuiteImpl(getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
const cred = (i) => ({ credentialType: 'basic', identity: new TextEncoder().encode(`${i}/${i}`) });
const time = async (f) => { const t = performance.now(); const r = await f(); return [r, performance.now() - t]; };

const [kps, tKp] = await time(() => Promise.all(Array.from({ length: members }, (_, i) => generateKeyPackage(cred(i), defaultCapabilities(), defaultLifetime, [], cs))));
let [a] = await time(() => createGroup(new Uint8Array(16), kps[0].publicPackage, kps[0].privatePackage, [], cs));
const adds = kps.slice(1).map((k) => ({ proposalType: 'add', add: { keyPackage: k.publicPackage } }));
const [c, tAdd] = await time(() => createCommit({ state: a, cipherSuite: cs }, { extraProposals: adds, ratchetTreeExtension: true }));
a = c.newState;
let [b, tJoin] = await time(() => joinGroup(c.welcome, kps[1].publicPackage, kps[1].privatePackage, emptyPskIndex, cs));
const text = new TextEncoder().encode('x'.repeat(200));
let tEnc = 0, tDec = 0, size = 0;
for (let i = 0; i < messages; i++) {
  const [m, te] = await time(() => createApplicationMessage(a, text, cs));
  a = m.newState; tEnc += te;
  const wire = encodeMlsMessage({ privateMessage: m.privateMessage, wireformat: 'mls_private_message', version: 'mls10' });
  size = wire.length;
  const [r, td] = await time(() => processPrivateMessage(b, decodeMlsMessage(wire, 0)[0].privateMessage, emptyPskIndex, cs));
  b = r.newState; tDec += td;
}
const [rot, tRot] = await time(() => createCommit({ state: a, cipherSuite: cs }, {}));
const [, tApply] = await time(() => processPrivateMessage(b, decodeMlsMessage(encodeMlsMessage(rot.commit), 0)[0].privateMessage, emptyPskIndex, cs));
const ms = (x) => x.toFixed(2) + ' ms';
console.log(JSON.stringify({
  node: process.version, members, messages,
  keyPackage: ms(tKp / members), commitAdd: ms(tAdd), join: ms(tJoin), encrypt: ms(tEnc / messages), decrypt: ms(tDec / messages),
  ciphertextBytesFor200Chars: size, rotationCommit: ms(tRot), applyRotation: ms(tApply),
}, null, 1));
