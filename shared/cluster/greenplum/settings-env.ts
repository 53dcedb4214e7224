import { ValidationError } from '#domain/errors.ts';
import {
  DEFAULT_SETTINGS,
  validateSettings,
  type CoordinatorSettings,
} from '#cluster/greenplum/commands.ts';

/** The environment variable that sets each coordinator setting (CDK context -> Lambda env). */
export const SETTINGS_ENV: Record<keyof CoordinatorSettings, string> = {
  gphome: 'GPHOME',
  coordinatorDataDirectory: 'COORDINATOR_DATA_DIRECTORY',
  adminUser: 'GP_ADMIN_USER',
  port: 'COORDINATOR_PORT',
};

/** The coordinator settings an environment sets, the seed's defaults for the rest; validated. */
export function coordinatorSettingsFromEnv(env: NodeJS.ProcessEnv): CoordinatorSettings {
  const text = (key: keyof CoordinatorSettings): string | undefined => {
    const value = env[SETTINGS_ENV[key]];
    return value === undefined || value === '' ? undefined : value;
  };
  const port = text('port');
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new ValidationError(
      `${SETTINGS_ENV.port}: must be a port number, got ${JSON.stringify(port.slice(0, 40))}`,
      SETTINGS_ENV.port,
    );
  return validateSettings(
    {
      gphome: text('gphome') ?? DEFAULT_SETTINGS.gphome,
      coordinatorDataDirectory:
        text('coordinatorDataDirectory') ?? DEFAULT_SETTINGS.coordinatorDataDirectory,
      adminUser: text('adminUser') ?? DEFAULT_SETTINGS.adminUser,
      port: port === undefined ? DEFAULT_SETTINGS.port : Number(port),
    },
    SETTINGS_ENV,
  );
}
