// Writes internal/mlswire/testdata/private-messages.json: real MLS ciphertext made the way the web app makes it
// (ts-mls, ciphersuite 1, MLSMessage-encoded as in src/e2ee/mls.ts), for the Go parser of the clear header that
// the chat server reads before asking the key service. Not run by the build; re-run only to refresh the fixture:
//   cd frontend && node scripts/mls-fixture.mjs > ../internal/mlswire/testdata/private-messages.json
import {
  createApplicationMessage, createCommit, createGroup, defaultCapabilities, defaultLifetime, encodeMlsMessage,
  generateKeyPackage, getCiphersuiteFromName, getCiphersuiteImpl,
} from 'ts-mls';

const cs = await getCiphersuiteImpl(getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
const cred = (i) => ({ credentialType: 'basic', identity: new TextEncoder().encode(`${i}/${i}`) });
const b64 = (b) => Buffer.from(b).toString('base64');
const b64url = (b) => Buffer.from(b).toString('base64url');
const wire = (pm) => encodeMlsMessage({ privateMessage: pm, wireformat: 'mls_private_message', version: 'mls10' });

const [ka, kb] = await Promise.all([1, 2].map((i) => generateKeyPackage(cred(i), defaultCapabilities(), defaultLifetime, [], cs)));
const groupId = crypto.getRandomValues(new Uint8Array(18)); // as newGroup() in src/e2ee/mls.ts
let a = await createGroup(groupId, ka.publicPackage, ka.privatePackage, [], cs);
const add = await createCommit({ state: a, cipherSuite: cs }, { extraProposals: [{ proposalType: 'add', add: { keyPackage: kb.publicPackage } }], ratchetTreeExtension: true });
a = add.newState;
const out = { groupId: b64url(groupId), messages: [], commit: '', keyPackage: b64(encodeMlsMessage({ keyPackage: kb.publicPackage, wireformat: 'mls_key_package', version: 'mls10' })) };
const send = async (text) => {
  const m = await createApplicationMessage(a, new TextEncoder().encode(text), cs);
  a = m.newState;
  out.messages.push({ epoch: Number(a.groupContext.epoch), text: text.length > 40 ? `${text.length} characters` : text, ciphertext: b64(wire(m.privateMessage)) });
};
await send('hello in epoch 1');
await send('x'.repeat(4000)); // a long message: the vectors' lengths take more than one byte
for (let i = 0; i < 2; i++) {
  const rot = await createCommit({ state: a, cipherSuite: cs }, {}); // a pure rotation: the next epoch
  a = rot.newState;
  if (!out.commit) out.commit = b64(encodeMlsMessage(rot.commit)); // a handshake message, not an application one
}
await send('hello in epoch 3');
console.log(JSON.stringify(out, null, 1));
