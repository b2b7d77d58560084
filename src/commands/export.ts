import { notYet } from './command';

export const exportCommand = notYet('export', 'Not implemented yet.');
