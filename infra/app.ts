import { buildApp } from '#infra/build-app.ts';

buildApp().app.synth();
