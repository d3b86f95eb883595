// Package identityflows proves the compiled identity model (infra/identity)
// against a running Ory Hydra: the model's Hydra server settings start
// it, the model's clients are applied through its admin API as the
// runner does, and the OAuth 2.0 flows the platform relies on are run for
// real (client credentials for every graph edge, checked by the callee's
// auth middleware; the browser's authorization code with PKCE S256
// through a login and consent test app; refresh-token rotation with
// reuse detection). Its tests are in the integration tier.
package identityflows
