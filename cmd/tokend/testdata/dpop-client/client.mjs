// A DPoP client written with panva's dpop package from npm (not by tokend):
// it gets tokens bound to its own key, refreshes them with a proof of the
// same key, and calls the UserInfo Endpoint with the bound access token.
// TestDPoPWithANodeClientLibrary runs it against the real server.
//
//   npm install dpop@2
//   TOKEND_URL=https://localhost:9443 CLIENT_ID=... USERNAME=alice PASSWORD=... node client.mjs
import * as DPoP from 'dpop'

const base = process.env.TOKEND_URL
const keypair = await DPoP.generateKeyPair('ES256')
let nonce // the server's DPoP-Nonce, when it asks for one (RFC 9449 §8)

// token sends a token request with a fresh proof, and once more with the
// server's nonce when the answer is use_dpop_nonce.
async function token(params) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(base + '/oauth2/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        DPoP: await DPoP.generateProof(keypair, base + '/oauth2/token', 'POST', nonce),
      },
      body: new URLSearchParams({ client_id: process.env.CLIENT_ID, ...params }),
    })
    nonce = res.headers.get('dpop-nonce') ?? nonce
    const body = await res.json()
    if (body.error === 'use_dpop_nonce' && attempt === 0) continue
    if (!res.ok) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`)
    return body
  }
}

const first = await token({
  grant_type: 'password', username: process.env.USERNAME, password: process.env.PASSWORD, scope: 'openid',
})
const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token })

// A protected resource: the token under the DPoP scheme, with a proof that
// carries its hash (ath).
const res = await fetch(base + '/oauth2/userinfo', {
  headers: {
    Authorization: `DPoP ${refreshed.access_token}`,
    DPoP: await DPoP.generateProof(keypair, base + '/oauth2/userinfo', 'GET', nonce, refreshed.access_token),
  },
})
console.log(JSON.stringify({
  token_type: refreshed.token_type,
  access_token: refreshed.access_token,
  jkt: await DPoP.calculateThumbprint(keypair.publicKey),
  userinfo_status: res.status,
  userinfo: await res.json(),
}))
