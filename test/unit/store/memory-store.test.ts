import { createMemoryStores } from '#store/memory.ts';
import { storeContract } from '#test/store-contract.ts';

storeContract('memory store', async () => createMemoryStores());
