import { notYet } from './command';

export const serve = notYet('serve', 'Not implemented yet.');
