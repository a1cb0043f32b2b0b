import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "data/", "coverage/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Only src/config.ts reads the environment." },
      ],
    },
  },
  {
    // The app reads its settings in config.ts alone; tests, benches and the container smoke test are tools.
    files: ["src/config.ts", "tests/**", "bench/**", "scripts/docker-smoke.ts", "vitest.config.ts"],
    rules: { "no-restricted-properties": "off" },
  },
  {
    files: ["migrations/**"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
