/** The MQTT code's errors: `[vigil] [mqtt] …` with a stable code. One constructor, so the bundle spells it once. */
import { VigilError } from '../util/errors';

export const mqttError = (code: string, message: string) => new VigilError('mqtt', code, message);
