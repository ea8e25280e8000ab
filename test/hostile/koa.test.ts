import { koaHarness } from '../conformance/harness-koa';
import { runHostileContract } from './hostile-contract';

runHostileContract(koaHarness);
