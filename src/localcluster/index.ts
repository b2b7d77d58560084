// The built-in Kubernetes exec/attach endpoint whose pods are local processes.
export { LocalCluster, TlsSetupError, type SessionRecord, type LocalClusterInfo, type LocalClusterOptions, type ListenAddress } from './server';
export { defaultPods, parsePodsFile, PodsFileError, DEFAULT_CONTAINER_ANNOTATION, type PodSpec, type ContainerSpec } from './pods';
export { checkListenPolicy, isLoopbackHost, parseTokenFile, ListenPolicyError } from './auth';
export { localClusterKubeconfig } from './kubeconfig';
export type { MainProcessStatus } from './attach';
