// Shared by the login and sign-up pages.
import { get, url } from "./api.js";

/** Where to go after signing in: the `next` page if it is one of ours, else the character list. */
export function nextUrl() {
  const next = new URLSearchParams(window.location.search).get("next");
  if (next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\")) return next;
  return url("/characters");
}

/** Someone already signed in skips the form. */
export async function skipIfSignedIn() {
  try {
    await get("/me", { auth: false });
    window.location.replace(nextUrl());
  } catch {
    // not signed in: stay
  }
}
