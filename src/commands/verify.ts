import { notYet } from './command';

export const verify = notYet('verify', 'Not implemented yet.');
