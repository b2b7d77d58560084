import { notYet } from './command';

export const play = notYet('play', 'Not implemented yet.');
