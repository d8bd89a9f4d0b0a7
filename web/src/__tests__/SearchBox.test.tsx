import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { SearchBox } from "../components/SearchBox";

function Harness({ onChange }: { onChange?: (value: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <SearchBox
      value={value}
      tags={["signup"]}
      onChange={(next) => {
        setValue(next);
        onChange?.(next);
      }}
    />
  );
}

describe("SearchBox", () => {
  it("suggests operators while typing and completes the chosen one", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const box = screen.getByRole("combobox", { name: "Search messages" });
    await user.type(box, "is:");
    expect(box).toHaveAttribute("aria-expanded", "true");
    const options = screen.getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["is:unreadnot read yet", "is:readalready read"]);
    expect(options[0]).toHaveAttribute("aria-selected", "true");

    await user.keyboard("{ArrowDown}{Enter}");
    expect(box).toHaveValue("is:read ");
    expect(screen.queryByRole("option")).toBeNull();
    expect(box).toHaveAttribute("aria-expanded", "false");
  });

  it("completes known tags, and a click picks a suggestion", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const box = screen.getByRole("combobox", { name: "Search messages" });
    await user.type(box, "from:ann tag:s");
    await user.click(screen.getByRole("option", { name: /tag:signup/ }));
    expect(box).toHaveValue("from:ann tag:signup ");
  });

  it("closes the suggestions on Escape without changing the text", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const box = screen.getByRole("combobox", { name: "Search messages" });
    await user.type(box, "fr");
    expect(screen.getByRole("listbox", { name: "Search operators" })).toBeInTheDocument();
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("listbox")).toBeNull();
    expect(box).toHaveValue("fr");
  });
});
