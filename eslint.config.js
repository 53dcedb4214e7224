import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  // CommonJS on purpose (infra/node-http.cjs says why): require() is what it is for.
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Layering: each folder imports only what lies beneath it. Relative paths up and out of a
  // folder are refused too, so the `#` aliases are the only way across and these rules see it.
  ...layer('shared/domain/**/*.ts', 'the domain is pure: it imports only the domain', [
    '#store/*',
    '#cluster/*',
    '#app/*',
    '#api/*',
    '#lambdas/*',
    '#infra/*',
    '#local/*',
    '#test/*',
    'node:*',
    '@aws-sdk/*',
    '@aws-lambda-powertools/*',
    '@middy/*',
    'aws-cdk-lib',
    'aws-cdk-lib/*',
  ]),
  ...layer(
    ['shared/store/**/*.ts', 'shared/cluster/**/*.ts'],
    'adapters serve the application; they never call up into it',
    ['#app/*', '#api/*', '#lambdas/*', '#infra/*', '#local/*', '#test/*'],
  ),
  ...layer(
    ['shared/app/**/*.ts', 'shared/api/**/*.ts'],
    'the application layer runs in the Lambdas and locally alike',
    ['#lambdas/*', '#infra/*', '#local/*', '#test/*'],
  ),
  ...layer('lambdas/**/*.ts', 'a handler knows neither the stack nor the local runtime', [
    '#infra/*',
    '#local/*',
    '#test/*',
  ]),
  ...layer('infra/**/*.ts', 'the stack knows nothing of the local runtime', [
    '#local/*',
    '#test/*',
  ]),
  {
    files: ['shared/domain/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'Date', message: 'the domain has no clock' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'the domain is deterministic' },
      ],
    },
  },
);

/** One layer's import rule: what files of `files` must not import, and why. */
function layer(files, why, forbidden) {
  return [
    {
      files: Array.isArray(files) ? files : [files],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              // A regex, not a gitignore group: there `#` would start a comment.
              { regex: `^(${forbidden.map(escape).join('|')})`, message: why },
              { regex: '^\\.\\./', message: 'cross folders with a # import' },
            ],
          },
        ],
      },
    },
  ];
}

/** `#app/*` -> `#app/`, `node:*` -> `node:`, `aws-cdk-lib` -> `aws-cdk-lib$`: a regex alternative. */
function escape(pattern) {
  const literal = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  return literal.endsWith('*') ? literal.slice(0, -1) : `${literal}$`;
}
