// ESLint for the widget (make lint). Its source modules are classic scripts that share one
// scope once /widget.js concatenates them (sessions/widget_script.py): each module names what it
// takes from the others in /* global */ and what it gives in /* exported */. The assembled
// script is linted as well, with those comments ignored, so a name used but defined nowhere, or
// defined in two modules, fails too.
import js from "@eslint/js";
import globals from "globals";

const widget = {
  ...js.configs.recommended,
  languageOptions: {
    ecmaVersion: 2020,
    sourceType: "script",
    globals: { ...globals.browser },
  },
  rules: {
    ...js.configs.recommended.rules,
    "no-unused-vars": ["error", { vars: "all", args: "none", caughtErrors: "none" }],
  },
};

export default [
  { ignores: ["node_modules/", ".venv/", "var/", "test-artifacts/", "staticfiles/", "media/"] },
  { ...widget, files: ["static/proctorme/src/**/*.js"] },
  // What `manage.py widget_script` prints, piped in with --stdin-filename and --no-inline-config.
  { ...widget, files: ["assembled/widget.js"] },
];
