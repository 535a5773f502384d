// A proxyless grpc-js client: it dials the xDS target the harness prints and reports, one line
// per feature, whether the client honoured what the publisher sent. Messages are empty and the
// backend names itself in the "x-backend" response header, so no generated code is needed.
'use strict';
const grpc = require('@grpc/grpc-js');
const xds = require('@grpc/grpc-js-xds');
const checks = require('./checks');

xds.register();
const client = new grpc.Client(process.argv[2], grpc.credentials.createInsecure());
const identity = (b) => b;

function call(headers) {
  return new Promise((resolve) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(headers || {})) md.set(k, v);
    let backend = '';
    const c = client.makeUnaryRequest('/signalbox.Echo/Call', identity, identity, Buffer.alloc(0), md,
      { deadline: Date.now() + 5000 }, (err) => resolve({ code: err ? err.code : 0, backend }));
    c.on('metadata', (m) => {
      const v = m.get('x-backend');
      if (v.length) backend = String(v[0]);
    });
  });
}

const version = require('@grpc/grpc-js-xds/package.json').version;
checks.run('grpc-js-xds ' + version, call).then((ok) => {
  client.close();
  process.exit(ok ? 0 : 1);
});
