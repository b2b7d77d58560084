import { notYet } from './command';

export const proxy = notYet('proxy', 'Not implemented yet.');
