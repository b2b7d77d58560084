import { notYet } from './command';

export const recorder = notYet('recorder', 'Not implemented yet.');
