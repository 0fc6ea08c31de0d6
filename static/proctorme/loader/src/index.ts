/**
 * Load the Proctorme widget from your Proctorme server, in the manner of @stripe/stripe-js:
 *
 *   import { loadProctorme } from "@proctorme/loader";
 *   const proctorme = await loadProctorme({ server: "https://proctorme.example.edu" });
 *   const widget = await proctorme.LoadProctormeWidget();
 *
 * The script is always loaded from the server (never bundled), so the server decides what runs;
 * pin a build and its Subresource Integrity hash from the server's /widget/manifest.json.
 */
import type { AutoProctor, EyeWidget, ProctormeGlobal } from "./widget.js";

export type * from "./widget.js";

export interface LoadProctormeOptions {
  /** Your Proctorme server, e.g. "https://proctorme.example.edu" (only its origin is used). */
  server: string;
  /** A build named in the server's /widget/manifest.json; the current build when absent. */
  build?: string;
  /** That build's `integrity` from the manifest: the browser refuses other bytes. */
  integrity?: string;
}

/** The widget's two dialects and its global, once the script has run. */
export interface Proctorme {
  LoadProctormeWidget(): Promise<EyeWidget>;
  LoadEyeWidget(): Promise<EyeWidget>;
  AutoProctor: typeof AutoProctor;
  Proctorme: ProctormeGlobal;
}

let loading: Promise<Proctorme> | null = null;

function loaded(): Proctorme | null {
  if (!window.Proctorme || typeof window.LoadProctormeWidget !== "function") return null;
  return {
    LoadProctormeWidget: window.LoadProctormeWidget,
    LoadEyeWidget: window.LoadEyeWidget,
    AutoProctor: window.AutoProctor,
    Proctorme: window.Proctorme,
  };
}

/** The widget's script URL for these options. */
export function widgetScriptUrl(options: LoadProctormeOptions): string {
  const server = new URL(options.server).origin;
  if (options.build !== undefined && !/^[0-9][0-9A-Za-z.+]*-[0-9a-f]{12}$/.test(options.build)) {
    throw new TypeError(`loadProctorme: "${options.build}" is not a build name from /widget/manifest.json`);
  }
  return options.build ? `${server}/widget/${options.build}/widget.min.js` : `${server}/widget.js`;
}

/**
 * Adds the widget's script once and resolves with its globals; later calls get the same promise.
 * Resolves with null where there is no DOM (server-side rendering). Rejects when the script
 * cannot be loaded or fails its integrity check (the next call tries again).
 */
export function loadProctorme(options: LoadProctormeOptions): Promise<Proctorme | null> {
  if (!options || typeof options.server !== "string") {
    return Promise.reject(new TypeError("loadProctorme({ server }): server must be your Proctorme server's URL"));
  }
  let src: string;
  try {
    src = widgetScriptUrl(options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (typeof window === "undefined" || typeof document === "undefined") return Promise.resolve(null);
  const ready = loaded();
  if (ready) return Promise.resolve(ready);
  if (loading) return loading;
  loading = new Promise<Proctorme>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.setAttribute("data-proctorme-server", new URL(options.server).origin);
    if (options.integrity) {
      script.integrity = options.integrity;
      script.crossOrigin = "anonymous";
    }
    const fail = (message: string) => {
      loading = null;
      script.remove();
      reject(new Error(message));
    };
    script.addEventListener("load", () => {
      const globals = loaded();
      if (globals) resolve(globals);
      else fail(`loadProctorme: ${src} loaded but did not define the Proctorme widget`);
    });
    script.addEventListener("error", () => fail(`loadProctorme: could not load ${src} (network, CSP or integrity)`));
    (document.head || document.body).appendChild(script);
  });
  return loading;
}
