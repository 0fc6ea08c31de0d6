// Type-checked by `make lint` (tsc --noEmit): how an integrator's TypeScript uses the package.
import { loadProctorme, type EyeConfig, type FlagData, type Proctorme } from "@proctorme/loader";

export async function eye(): Promise<void> {
  const proctorme: Proctorme | null = await loadProctorme({ server: "https://proctorme.example.edu" });
  if (!proctorme) return;
  const widget = await proctorme.LoadProctormeWidget();
  widget.on("TAB_NOT_FOCUS", (flag: FlagData) => console.log(flag.examId, flag.createdAt));
  const config: EyeConfig = {
    apiKey: "pk_x",
    assessmentId: "math-101",
    assessmentTitle: "Maths",
    candidateId: "42",
    candidateEmail: "ada@alpha.edu",
    candidateFirstName: "Ada",
    candidateLastName: "Lovelace",
    institutionName: "Alpha University",
    examDuration: 3600,
    locale: "fr",
  };
  await widget.init(config);
  // @ts-expect-error examDuration is a number of seconds
  await widget.init({ ...config, examDuration: "1h" });
}

export async function autoproctor(): Promise<void> {
  const proctorme = await loadProctorme({
    server: "https://proctorme.example.edu",
    build: "1.0.0-3f2a9c41d0be",
    integrity: "sha384-abc",
  });
  if (!proctorme) return;
  const ap = new proctorme.AutoProctor({ clientId: "pk_x", testAttemptId: "a-1", hashedTestAttemptId: "x" });
  await ap.setup({ trackingOptions: { audio: true }, testDuration: 60 });
  // @ts-expect-error the server is required
  await loadProctorme({});
}
