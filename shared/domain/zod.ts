/**
 * zod for every schema of recoverseg: zod/mini, the functional API, with zod's English messages.
 *
 * Why mini and not the classic API: classic zod is some 90 KiB a bundle cannot tree-shake, and
 * each schema it builds gets every method (`.optional()`, `.max()` …) bound to it; every Lambda
 * builds hundreds at init (the step contract alone). mini parses and checks the same way (the
 * same zod core), but it is the smaller part of each bundle and builds each schema once per
 * call, not once per chained method (`npm run bench -- coldStart`).
 *
 * Why `config(en())` here: classic zod sets English as it loads; mini leaves messages to the
 * caller, and every error recoverseg names (`events[0].data.dbid: Too small: expected number
 * to be >=1`) is zod's English. Every schema module imports zod through this one.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
