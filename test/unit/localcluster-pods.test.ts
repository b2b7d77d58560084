import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONTAINER_ANNOTATION, defaultContainerOf, defaultPods, parsePodsFile, PodSet } from '../../src/localcluster/pods';

test('default pods: shell (shell) and web-0 (app, sidecar; default app), all attachable (stdin+tty)', () => {
  const pods = defaultPods();
  assert.deepEqual(
    pods.map((p) => [p.namespace, p.name, p.containers.map((c) => c.name)]),
    [
      ['default', 'shell', ['shell']],
      ['default', 'web-0', ['app', 'sidecar']],
    ],
  );
  assert.equal(defaultContainerOf(pods[1]).name, 'app');
  assert.ok(pods.every((p) => p.containers.every((c) => c.stdin && c.tty)));
});

test('a minimal pods file gets defaults: namespace default, a shell main process, stdin+tty', () => {
  const [pod] = parsePodsFile(JSON.stringify({ pods: [{ name: 'db-0', containers: [{ name: 'db' }] }] }));
  assert.deepEqual(pod, {
    namespace: 'default',
    name: 'db-0',
    labels: {},
    annotations: {},
    containers: [{ name: 'db', command: ['sh'], env: {}, stdin: true, tty: true }],
  });
});

test('a full pods file: namespace, labels, defaultContainer as the annotation, command, env, stdin/tty', () => {
  const pods = parsePodsFile(
    JSON.stringify({
      pods: [
        {
          name: 'api.v1',
          namespace: 'team-a',
          labels: { app: 'api' },
          defaultContainer: 'side',
          containers: [
            { name: 'main', command: ['/bin/sh', '-c', 'while sleep 1; do date; done'], tty: false, stdin: false, env: { LOG: 'debug' } },
            { name: 'side' },
          ],
        },
      ],
    }),
  );
  assert.equal(pods[0].annotations[DEFAULT_CONTAINER_ANNOTATION], 'side');
  assert.equal(defaultContainerOf(pods[0]).name, 'side');
  assert.deepEqual(pods[0].containers[0], { name: 'main', command: ['/bin/sh', '-c', 'while sleep 1; do date; done'], env: { LOG: 'debug' }, stdin: false, tty: false });
  const set = new PodSet(pods);
  assert.equal(set.get('team-a', 'api.v1')?.name, 'api.v1');
  assert.equal(set.get('default', 'api.v1'), undefined);
  assert.deepEqual(set.namespaces(), ['team-a']);
});

test('pods file errors name the file, the path and the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{', /: pods\.json: not valid JSON/],
    [[], /\(top level\) must be a JSON object/],
    [{ pod: [] }, /\(top level\) has an unknown key "pod" \(allowed: pods\)/],
    [{ pods: [] }, /pods must list at least one pod/],
    [{ pods: [{ name: 'Shell', containers: [{ name: 'c' }] }] }, /pods\[0\]\.name "Shell" is not a valid name/],
    [{ pods: [{ name: 'a', containers: [] }] }, /pods\[0\]\.containers must be a non-empty array/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c' }, { name: 'c' }] }] }, /pods\[0\]\.containers\[1\]\.name "c" is already used in this pod/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c' }] }, { name: 'a', containers: [{ name: 'c' }] }] }, /pods\[1\]\.name "a" is already used in namespace "default"/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c', command: 'sh' }] }] }, /containers\[0\]\.command must be a non-empty array of strings/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c', env: { PATH: '/x' } }] }] }, /env\.PATH is set by the local cluster/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c', env: { 'A-B': 'x' } }] }] }, /invalid variable name "A-B"/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c', tty: 'yes' }] }] }, /containers\[0\]\.tty must be true or false/],
    [{ pods: [{ name: 'a', defaultContainer: 'x', containers: [{ name: 'c' }] }] }, /defaultContainer must name one of the pod's containers \(c\)/],
    [{ pods: [{ name: 'a', namespace: '../etc', containers: [{ name: 'c' }] }] }, /namespace "\.\.\/etc" is not a valid name/],
    [{ pods: [{ name: 'a', containers: [{ name: 'c', image: 'x' }] }] }, /has an unknown key "image"/],
  ];
  for (const [doc, pattern] of cases) {
    assert.throws(() => parsePodsFile(typeof doc === 'string' ? doc : JSON.stringify(doc), 'pods.json'), pattern, JSON.stringify(doc));
  }
  assert.throws(() => parsePodsFile(' '.repeat(1024 * 1024 + 1)), /larger than/);
});
