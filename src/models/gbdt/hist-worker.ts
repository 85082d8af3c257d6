/**
 * The histogram helper thread (see hist-threads.ts): attaches to the learner's shared memory
 * and runs pieces of histogram jobs with the same kernel as the main thread.
 */
import { workerData } from 'node:worker_threads';
import { jsHistKernels, simdHistKernels } from './hist-kernel.js';
import { helperLoop, type HelperData } from './hist-threads.js';

const data = workerData as HelperData;
const kernels = simdHistKernels({ buffer: data.buffer, memory: data.memory, pages: data.pages, shared: true }) ?? jsHistKernels(data.buffer);
helperLoop(data, kernels);
