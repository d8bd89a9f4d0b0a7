import { render, screen, waitFor } from "@testing-library/react";
import { errorLocation, parseVariables, TemplatePreview } from "../components/TemplatePreview";

interface Call {
  url: string;
  body: { variables: Record<string, unknown> };
}

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": status < 400 ? "application/json" : "application/problem+json" },
  });
}

let calls: Call[] = [];
function serve(reply: (call: Call) => Response) {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const call = { url, body: JSON.parse(String(init.body)) as Call["body"] };
      calls.push(call);
      return reply(call);
    }),
  );
}

afterEach(() => vi.unstubAllGlobals());

test("the variables box accepts a JSON object and explains anything else", () => {
  expect(parseVariables('{"name": "Ada"}')).toEqual({ value: { name: "Ada" }, error: null });
  expect(parseVariables("")).toEqual({ value: null, error: null });
  expect(parseVariables("[1]").error).toMatch(/must be a JSON object/);
  expect(parseVariables("{name: }").error).toMatch(/not valid JSON/);
});

test("a template error's part and line are picked out of the message", () => {
  expect(errorLocation("invalid request: html: html line 3: unexpected '}'")).toEqual({ part: "html", line: 3 });
  expect(errorLocation("no such template")).toBeNull();
});

test("renders the HTML in a sandboxed frame and lists the missing variables", async () => {
  serve(({ body }) =>
    answer(200, {
      subject: `Hello ${String(body.variables.name)}`,
      html: `<h1>Hi ${String(body.variables.name)}</h1>`,
      text: "Hi",
      missing_variables: ["company"],
    }),
  );
  render(<TemplatePreview templateId={7} variablesText='{"name": "Ada"}' delayMs={0} />);
  expect(await screen.findByText("Subject: Hello Ada")).toBeInTheDocument();
  const frame = screen.getByTitle("Rendered HTML");
  expect(frame).toHaveAttribute("sandbox", "");
  expect(frame.getAttribute("srcdoc")).toBe("<h1>Hi Ada</h1>");
  expect(screen.getByTestId("missing-variables")).toHaveTextContent("company");
  expect(calls[0].url).toBe("/api/v1/templates/7/preview");
  expect(calls[0].body.variables).toEqual({ name: "Ada" });
});

test("invalid JSON asks for a fix without calling the server; a template error shows its line", async () => {
  serve(() => answer(422, { detail: "invalid request: html: html line 2: unexpected end of template" }));
  const { rerender } = render(<TemplatePreview templateId={7} variablesText="{oops" delayMs={0} />);
  expect(screen.getByText(/not valid JSON/)).toBeInTheDocument();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(calls).toHaveLength(0);

  rerender(<TemplatePreview templateId={7} variablesText="{}" delayMs={0} />);
  await waitFor(() => expect(screen.getByTestId("preview-error")).toHaveTextContent("html, line 2:"));
  expect(screen.getByTestId("preview-error")).toHaveTextContent("unexpected end of template");
});
