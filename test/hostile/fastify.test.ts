import { fastifyHarness } from '../conformance/harness-fastify';
import { runHostileContract } from './hostile-contract';

runHostileContract(fastifyHarness);
