/**
 * The texts of MQTT reason codes a person may need to read in a log line: MQTT 5's 0x80.. (CONNACK, PUBACK,
 * DISCONNECT), and MQTT 3.1.1's CONNACK return codes 1..5 by their MQTT 5 equivalents, so one list serves both.
 */
/** Indexed by reason code − 0x80; '' = no text. One string: an array literal of them costs more bytes in the bundle. */
export const REASONS_5 = (
  'unspecified error,malformed packet,protocol error,implementation specific error,unsupported protocol version,' +
  'client identifier not valid,bad user name or password,not authorized,server unavailable,server busy,banned,' +
  'server shutting down,,keep alive timeout,session taken over,,topic name invalid,,,receive maximum exceeded,,' +
  'packet too large,,quota exceeded,,payload format invalid,,,use another server,server moved,,connection rate exceeded'
).split(',');

/** MQTT 3.1.1 CONNACK return codes 1..5 as their MQTT 5 reason codes less 0x80 (the texts above). */
export const CONNACK_AS_5 = [, 4, 5, 8, 6, 7];

export const reason5 = (code: number): string => `${REASONS_5[code - 0x80] || 'reason'} (0x${code.toString(16)})`;
