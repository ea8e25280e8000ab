import { nodeHarness } from '../conformance/harness-node';
import { runHostileContract } from './hostile-contract';

runHostileContract(nodeHarness);
