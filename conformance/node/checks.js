'use strict';
// The features every conformance client checks, with the same thresholds as the Go tests.
const UNAVAILABLE = 14;
const RESOURCE_EXHAUSTED = 8;
const DEADLINE_EXCEEDED = 4;

async function run(client, call) {
  const results = [];
  const report = (feature, ok, detail) => {
    results.push(ok);
    console.log(`${client}: ${feature}: ${ok ? 'ok' : 'FAIL'} (${detail})`);
  };
  // The first calls to a service wait for its xDS resources to arrive.
  const ready = async (service) => {
    for (let i = 0; i < 50; i++) {
      const r = await call({}, service);
      if (r.code === 0) break;
      await new Promise((res) => setTimeout(res, 200));
    }
  };
  // n calls to a service, counted by the backend that answered or the status that failed them.
  const tally = async (n, service) => {
    const counts = {};
    for (let i = 0; i < n; i++) {
      const r = await call({}, service);
      const k = r.code === 0 ? r.backend : 'error ' + r.code;
      counts[k] = (counts[k] || 0) + 1;
    }
    return counts;
  };
  await ready();
  const counts = await tally(200);
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

  // The client is in us-west/zone-a; nearby and weighted have an endpoint there (west) and
  // one in us-east/zone-a (east). With outlier detection, west is its priority 0.
  await ready('nearby');
  const near = await tally(40, 'nearby');
  report('locality failover', near.west === 40, JSON.stringify(near));

  // distribute from us-west/*: us-west 80, us-east 20.
  await ready('weighted');
  const spread = await tally(400, 'weighted');
  const west = (spread.west || 0) / 400;
  report('locality distribute', west >= 0.7 && west <= 0.9 && (spread.west || 0) + (spread.east || 0) === 400, JSON.stringify(spread));
  return results.every(Boolean);
}

module.exports = { run };
