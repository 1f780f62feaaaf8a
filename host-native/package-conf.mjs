// package.conf and param.conf as Axis's acap-build writes them (docs/packaging.md, "package.conf"):
// the keys in acap-build's order, each KEY="value" with the value as is (acap-build escapes nothing),
// except VENDORHOMEPAGELINK, single-quoted because its value is an <a href="…"> with double quotes.

/** Keys in acap-build's order, with its default for a key the manifest does not set (null: key left out). */
const KEYS = [
  ['PACKAGENAME', ''],
  ['APPTYPE', ''],
  ['APPNAME', ''],
  ['APPID', ''],
  ['LICENSENAME', 'Available'],
  ['LICENSEPAGE', 'none'],
  ['LICENSE_CHECK_ARGS', null],
  ['VENDOR', '-'],
  ['REQEMBDEVVERSION', '2.0'],
  ['APPMAJORVERSION', '1'],
  ['APPMINORVERSION', '0'],
  ['APPMICROVERSION', '0'],
  ['APPGRP', 'sdk'],
  ['APPUSR', 'sdk'],
  ['APPOPTS', ''],
  ['OTHERFILES', ''],
  ['SETTINGSPAGEFILE', ''],
  ['SETTINGSPAGETEXT', ''],
  ['VENDORHOMEPAGELINK', ''],
  ['PREUPGRADESCRIPT', ''],
  ['POSTINSTALLSCRIPT', ''],
  ['STARTMODE', 'never'],
  ['HTTPCGIPATHS', ''],
];

/** acap-build's link: href the URL as written, text the URL without an http(s):// scheme. */
export const vendorHomePageLink = (url) => `<a href="${url}" target="_blank">${url.replace(/^https?:\/\//, '')}</a>`;

/** The package.conf text for one architecture; otherFiles are the extra members (acap-build's -a files). */
export function packageConf(manifest, arch, otherFiles) {
  const { setup, configuration = {}, copyProtection, installation } = manifest.acapPackageConf;
  const [major, minor, micro] = setup.version.split(/[.+-]/);
  const set = {
    PACKAGENAME: setup.friendlyName ?? setup.appName,
    APPTYPE: setup.architecture ?? arch,
    APPNAME: setup.appName,
    APPID: setup.appId,
    LICENSEPAGE: copyProtection?.method,
    VENDOR: setup.vendor,
    REQEMBDEVVERSION: setup.embeddedSdkVersion,
    APPMAJORVERSION: major,
    APPMINORVERSION: minor,
    APPMICROVERSION: micro,
    APPGRP: setup.user?.group,
    APPUSR: setup.user?.username,
    APPOPTS: setup.runOptions,
    OTHERFILES: otherFiles.length ? otherFiles.join(' ') : undefined,
    SETTINGSPAGEFILE: configuration.settingPage,
    VENDORHOMEPAGELINK: setup.vendorUrl ? vendorHomePageLink(setup.vendorUrl) : undefined,
    POSTINSTALLSCRIPT: installation?.postInstallScript,
    STARTMODE: setup.runMode,
    HTTPCGIPATHS: configuration.httpConfig?.length ? 'cgi.conf' : undefined,
  };
  const lines = [];
  for (const [key, fallback] of KEYS) {
    const value = set[key] ?? fallback;
    if (value === null) continue;
    if (/[\n\r]/.test(String(value))) throw new Error(`[vigil] [package] package.conf ${key} must be one line`);
    lines.push(key === 'VENDORHOMEPAGELINK' ? `${key}='${value}'` : `${key}="${value}"`);
  }
  return lines.join('\n') + '\n';
}

/** param.conf: one `Name="default" type="type"` line per paramConfig entry (acap-build's param_conf). */
export function paramConf(manifest) {
  const params = manifest.acapPackageConf.configuration?.paramConfig ?? [];
  return params.map((p) => `${p.name}="${p.default}" type="${p.type}"`).join('\n') + (params.length ? '\n' : '');
}
