import { createStores } from '#store/stores.ts';
import { localDynamo } from '#test/support.ts';
import { storeContract } from '#test/store-contract.ts';

storeContract('DynamoDB store', async () => {
  const ddb = await localDynamo('contract');
  return createStores(ddb.doc, ddb.tables);
});
