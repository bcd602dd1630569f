/** What `make up` prints when the environment is running: the commands to poke at it. */
import { dirname, relative } from 'node:path';
import { PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import { agentPods } from './agentPods.ts';
import { AGENT_NAME, DEMO_NAMESPACE, RATE_LIMIT_POLICY_NAME } from './demoLayout.ts';
import { AGENT_LABEL } from '../contract/src/pod/podLabels.ts';
import type { Environment } from './environment.ts';

export async function nextSteps(environment: Environment): Promise<string> {
  const { state, provider, layout } = environment;
  const pods = await agentPods(environment.client, { forwardsFile: environment.forwardsFile });
  const first = pods.find((p) => p.ready);
  const agentUrl = first?.url ?? 'http://127.0.0.1:<port>';
  const forwarded = state.reach?.mode === 'port-forward';
  // The simulator as this machine calls it (its pods' address may be a name only they resolve).
  const simulatorUrl =
    state.endpoints.simulator ?? (provider.kind === 'simulator' ? provider.url : '');
  const kubectlDir = state.kubectl === undefined ? undefined : dirname(state.kubectl);
  const lines = [
    `The demo environment is up (namespace ${DEMO_NAMESPACE}, ${pods.length} agent pods, ` +
      (provider.kind === 'simulator'
        ? `LLM simulator at ${simulatorUrl}).`
        : 'the real Anthropic API).'),
    forwarded
      ? `Reach: port-forward (${state.reach.why}): the pods are called through kubectl ` +
        'port-forward on 127.0.0.1, kept by the port-forwards process until make down.'
      : `Reach: routes (${state.reach?.why ?? 'root on Linux'}): this machine routes the pod network.`,
    '',
    'Point kubectl at it (this kubectl matches the cluster; /usr/bin/kubectl may not):',
    `  export KUBECONFIG=${state.kubeconfig ?? '.breakwater/kubeconfig'}`,
    ...(kubectlDir === undefined ? [] : [`  export PATH=${kubectlDir}:$PATH`]),
    '',
    'Look at the agent and its policies:',
    `  kubectl get agd,cbp,rlp -n ${DEMO_NAMESPACE}`,
    `  kubectl get pods -n ${DEMO_NAMESPACE} -o custom-columns='POD:.metadata.name,IP:.status.podIP,BREAKERS:.metadata.annotations.breakwater\\.dev/breakers'`,
    `  kubectl logs -n ${DEMO_NAMESPACE} -l ${AGENT_LABEL}=${AGENT_NAME} --tail=5`,
    '',
    forwarded
      ? 'Call the agent (each pod through its port-forward; one pod here, every pod below):'
      : 'Call the agent (this machine routes the pod network; one pod here, every pod below):',
    ...pods.map(
      (p) =>
        `  # ${p.name}: ${p.url ?? 'no address yet'}` +
        (p.metricsUrl === undefined ? '' : ` (metrics ${p.metricsUrl}/metrics)`),
    ),
    `  curl -s ${agentUrl}/v1/agent/invoke -H 'content-type: application/json' -d '{"input":"hello"}'`,
    `  curl -s ${agentUrl}/v1/messages -H 'content-type: application/json' \\`,
    `    -d '{"model":"${PRIMARY_MODEL}","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}'`,
  ];
  if (provider.kind === 'simulator') {
    lines.push(
      '',
      'Make the provider fall over, send a few requests, and watch the breaker open:',
      `  curl -s -X POST ${simulatorUrl}/_sim/faults -H 'content-type: application/json' -d '{"status":529,"rate":1}'`,
      `  for i in $(seq 10); do curl -s -o /dev/null -w '%{http_code} ' ${agentUrl}/v1/agent/invoke -H 'content-type: application/json' -d '{"input":"hi"}'; done; echo`,
      `  kubectl get cbp -n ${DEMO_NAMESPACE}`,
      `  curl -s -X DELETE ${simulatorUrl}/_sim/faults        # the provider recovers`,
      `  curl -s ${simulatorUrl}/_sim/stats`,
    );
  }
  lines.push(
    '',
    'Edit a policy live (every replica applies it within a second, no restart):',
    `  kubectl patch rlp ${RATE_LIMIT_POLICY_NAME} -n ${DEMO_NAMESPACE} --type merge -p '{"spec":{"requests":{"perSecond":1,"burst":1}}}'`,
    `  kubectl get agd -n ${DEMO_NAMESPACE} -o jsonpath='{.items[0].status.policy}'; echo`,
  );
  if (first?.metricsUrl !== undefined) {
    lines.push(
      `  curl -s ${first.metricsUrl}/debug/policy       # what the pod runs; also /debug/breakers, /metrics`,
    );
  }
  const prometheus = state.endpoints.prometheus;
  if (prometheus !== undefined) {
    lines.push(
      '',
      `Prometheus: ${prometheus} (targets: ${prometheus}/targets, alerts: ${prometheus}/alerts).`,
      'With the 529 fault in place and traffic flowing, CircuitBreakerOpen goes pending, then fires after 2 minutes:',
      `  while true; do curl -s -o /dev/null ${agentUrl}/v1/agent/invoke -H 'content-type: application/json' -d '{"input":"hi"}'; sleep 1; done`,
      `  curl -s '${prometheus}/api/v1/query?query=circuit_breaker_state' | head -c 600; echo`,
    );
  }
  lines.push(
    '',
    `Logs: ${relative(layout.repoRoot, layout.logDir)}/ (simulator, operator${forwarded ? ', port-forwards' : ''}${prometheus === undefined ? '' : ', prometheus'}); the pods' with kubectl logs.`,
    'Stop it all: make down',
  );
  return lines.join('\n');
}
