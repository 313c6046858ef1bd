/** HTTP syntax shared across the toolkit. */

/** RFC 9110 §5.6.2 `token` (a header name, a method): one or more tchar. */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
