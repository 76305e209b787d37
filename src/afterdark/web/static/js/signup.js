import { post } from "./api.js";
import { nextUrl, skipIfSignedIn } from "./auth.js";
import { busy, formError } from "./ui.js";

const form = document.getElementById("signup-form");
const birthdate = form.elements.namedItem("birthdate");
birthdate.max = new Date().toISOString().slice(0, 10);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError(form, "");
  const data = new FormData(form);
  const body = {
    email: String(data.get("email") || "").trim(),
    password: String(data.get("password") || ""),
    birthdate: String(data.get("birthdate") || ""),
  };
  const name = String(data.get("display_name") || "").trim();
  if (name) body.display_name = name;
  if (!body.email || !body.password || !body.birthdate) {
    formError(form, "Enter your email, a password and your date of birth.");
    return;
  }
  try {
    await busy(form.querySelector('[type="submit"]'), () => post("/auth/signup", body, { auth: false }));
    window.location.assign(nextUrl());
  } catch (err) {
    formError(form, err.message);
  }
});

skipIfSignedIn();
