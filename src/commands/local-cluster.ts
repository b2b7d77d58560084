import { notYet } from './command';

export const localCluster = notYet('local-cluster', 'Not implemented yet.');
