/** MQTT 5 properties: their names and wire kinds (one table, shared by encoder and reader) and their encoder. */
import { field, str, u16, varint, type Part } from './field-writer';

/** MQTT 5 properties, named as mqtt-packet names them; user properties as ordered pairs. */
export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  subscriptionIdentifier?: number;
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifiersAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

/**
 * Property id → [name, kind]: b byte, h 2 bytes, i 4 bytes, v variable int, s string, d binary, p string pair.
 * One string, `kind name` per id from 1 on (an empty slot is an id MQTT 5 does not define): as a literal
 * table of arrays it cost ~300 more bytes of the bundle.
 */
export const PROPS = (
  ',b payloadFormatIndicator,i messageExpiryInterval,s contentType,,,,,s responseTopic,d correlationData,,' +
  'v subscriptionIdentifier,,,,,,i sessionExpiryInterval,s assignedClientIdentifier,h serverKeepAlive,,' +
  's authenticationMethod,d authenticationData,b requestProblemInformation,i willDelayInterval,' +
  'b requestResponseInformation,s responseInformation,,s serverReference,,,s reasonString,,h receiveMaximum,' +
  'h topicAliasMaximum,h topicAlias,b maximumQoS,b retainAvailable,p userProperties,i maximumPacketSize,' +
  'b wildcardSubscriptionAvailable,b subscriptionIdentifiersAvailable,b sharedSubscriptionAvailable'
)
  .split(',')
  .map((e) => e && ([e.slice(2), e[0]] as [keyof Properties, string]));

/** MQTT 5 properties: their length as a variable integer, then id + value for each one present. */
export const encodeProperties = (props: Properties | undefined): Part[] => {
  const parts: Part[] = [];
  let length = 0;
  const add = (p: Part) => {
    parts.push(p);
    length += p.length;
  };
  if (props) {
    PROPS.forEach((def, id) => {
      if (!def) return;
      const [name, kind] = def;
      const v = props[name];
      if (v === undefined) return;
      const values = kind === 'p' ? (v as Array<[string, string]>) : [v];
      for (const value of values) {
        const n = value as number;
        const pair = value as [string, string];
        add([id]);
        for (const f of kind === 'b'
          ? [[n & 255]]
          : kind === 'h'
            ? [u16(n)]
            : kind === 'i'
              ? [u16(n >>> 16), u16(n)]
              : kind === 'v'
                ? [varint(n)]
                : kind === 's'
                  ? str(value as string, name)
                  : kind === 'd'
                    ? field(value as Uint8Array, name)
                    : [...str(pair[0], name), ...str(pair[1], name)])
          add(f);
      }
    });
  }
  return [varint(length), ...parts];
};
