// `node:http` for the Lambda bundles, through require(): an ESM import of it reads every export
// to build the module's namespace, and its lazy `WebSocket`, `CloseEvent` and `MessageEvent` getters load all of
// undici (30 ms of each cold start); require() reads none of them. See LAMBDA_BUNDLING.
module.exports = require('node:http');
