import { notYet } from './command';

export const ls = notYet('ls', 'Not implemented yet.');
