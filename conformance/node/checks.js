'use strict';
// The four features every conformance client checks, with the same thresholds as the Go test.
const UNAVAILABLE = 14;
const RESOURCE_EXHAUSTED = 8;
const DEADLINE_EXCEEDED = 4;

async function run(client, call) {
  const results = [];
  const report = (feature, ok, detail) => {
    results.push(ok);
    console.log(`${client}: ${feature}: ${ok ? 'ok' : 'FAIL'} (${detail})`);
  };
  // The first call waits for the xDS resources to arrive.
  for (let i = 0; i < 50; i++) {
    const r = await call({});
    if (r.code === 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const counts = {};
  for (let i = 0; i < 200; i++) {
    const r = await call({});
    const k = r.code === 0 ? r.backend : 'error ' + r.code;
    counts[k] = (counts[k] || 0) + 1;
  }
  const share = (counts.v1 || 0) / 200;
  report('weighted split 75/25', share >= 0.6 && share <= 0.9 && (counts.v1 || 0) + (counts.v2 || 0) === 200, JSON.stringify(counts));

  let pinned = 0;
  for (let i = 0; i < 20; i++) if ((await call({ 'x-version': 'v2' })).backend === 'v2') pinned++;
  report('header match', pinned === 20, `${pinned}/20 on v2`);

  let aborted = 0;
  for (let i = 0; i < 10; i++) if ((await call({ 'x-fault': 'abort' })).code === RESOURCE_EXHAUSTED) aborted++;
  report('fault abort', aborted === 10, `${aborted}/10 RESOURCE_EXHAUSTED`);

  const start = Date.now();
  const slow = await call({ 'x-timeout': 'yes' });
  const took = Date.now() - start;
  // The route allows 100 ms; the backend would take 2 s.
  report('route timeout', slow.code === DEADLINE_EXCEEDED && took >= 90 && took < 1000, `code ${slow.code} after ${took} ms`);

  let retried = 0;
  for (let i = 0; i < 20; i++) if ((await call({ 'x-retry': 'yes' })).code === 0) retried++;
  let failed = 0;
  for (let i = 0; i < 20; i++) if ((await call({ 'x-retry': 'no' })).code === UNAVAILABLE) failed++;
  report('retry', retried === 20 && failed >= 5, `${retried}/20 ok with retries, ${failed}/20 failed without`);
  return results.every(Boolean);
}

module.exports = { run };
