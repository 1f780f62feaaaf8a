/** The login page's HTML: a plain form (no script, so the CSP's `form-action 'self'` is all it needs). */
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginPage(o: { next: string; error?: string; name?: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Vigil</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><a class="brand" href="/">Vigil fleet</a></header>
<main class="login">
<h1>Log in</h1>
${o.error ? `<p id="login-error" class="warning" role="alert">${escape(o.error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="next" value="${escape(o.next)}">
  <p><label>Name <input id="name" name="name" autocomplete="username" required value="${escape(o.name ?? '')}"></label></p>
  <p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
  <p><button id="login" type="submit">Log in</button></p>
</form>
</main>
</body></html>`;
}

/** Where to go after the login: a path of this site only (never `//other.example` or a full URL). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  return next.slice(0, 2000);
}
