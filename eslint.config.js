import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'coverage/', 'bench/results.json'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['shared/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@aws-sdk/*',
            'aws-cdk-lib',
            'aws-cdk-lib/*',
            '#store/*',
            '#cluster/*',
            '#lambdas/*',
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Date', message: 'the domain has no clock' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'the domain is deterministic' },
      ],
    },
  },
);
