// A proxyless grpc-js client: it dials the xDS targets the harness prints and reports, one line
// per feature, whether the client honoured what the publisher sent. Messages are empty and the
// backend names itself in the "x-backend" response header, so no generated code is needed.
'use strict';
const grpc = require('@grpc/grpc-js');
const xds = require('@grpc/grpc-js-xds');
const checks = require('./checks');

xds.register();
// One channel per target: echo (the routing checks), nearby and weighted (the locality checks).
const [echo, nearby, weighted] = process.argv.slice(2);
const clients = {};
for (const [name, target] of Object.entries({ echo, nearby, weighted })) {
  if (target) clients[name] = new grpc.Client(target, grpc.credentials.createInsecure());
}
const identity = (b) => b;

// call makes one call to the service named (default echo) and resolves to its status code and
// the backend that answered.
function call(headers, service = 'echo') {
  const client = clients[service];
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
  for (const c of Object.values(clients)) c.close();
  process.exit(ok ? 0 : 1);
});
