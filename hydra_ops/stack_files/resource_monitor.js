// hydra-ops G6 resource monitor (n8n Code node). hydra-ops prepends CHECKS and PROMETHEUS, generated from the
// inventory and group data. Each run asks Prometheus for every check and returns one item per value past its
// threshold (the next node POSTs each to the Activity API). A query that fails fails the run, so n8n records it.
const alerts = [];
const at = new Date().toISOString();
for (const check of CHECKS) {
  const answer = await this.helpers.httpRequest({
    url: PROMETHEUS + '/api/v1/query', qs: { query: check.expr }, json: true, timeout: 10000,
  });
  if (!answer || answer.status !== 'success') {
    throw new Error(`Prometheus refused ${check.expr}: ${JSON.stringify(answer)}`);
  }
  const series = answer.data.result;
  if (check.host && series.length === 0) {
    alerts.push({ source: 'n8n resource monitor', alert: check.alert, host: check.host, metric: check.metric,
                  value: null, threshold: check.below, detail: 'no samples in Prometheus', at });
  }
  for (const s of series) {
    const value = Number(s.value[1]);
    const bad = check.above !== undefined ? value > check.above : value < check.below;
    if (!bad) continue;
    const alert = { source: 'n8n resource monitor', alert: check.alert, host: s.metric.host || check.host || null,
                    metric: check.metric, value, threshold: check.above !== undefined ? check.above : check.below,
                    at };
    for (const label of ['gpu', 'mountpoint', 'service']) {
      if (s.metric[label] !== undefined) alert[label] = s.metric[label];
    }
    alerts.push(alert);
  }
}
return alerts.map((alert) => ({ json: alert }));
