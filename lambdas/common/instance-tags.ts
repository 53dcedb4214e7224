import { DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';

const ec2 = new EC2Client({});

/** The tags of an EC2 instance, by key. */
export async function tagsOf(instanceId: string): Promise<Record<string, string>> {
  const { Tags = [] } = await ec2.send(
    new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }] }),
  );
  return Object.fromEntries(Tags.map((t) => [t.Key ?? '', t.Value ?? '']));
}
