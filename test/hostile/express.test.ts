import { expressHarness } from '../conformance/harness-express';
import { runHostileContract } from './hostile-contract';

runHostileContract(expressHarness);
